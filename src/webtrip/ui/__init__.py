"""``webtrip ui``: a local web app that makes runs and shows them in the replay app.

A learner (or a teacher at a projector) chooses a lab, a network and some
faults, presses Run and watches: the server runs the lab in the simulated
network — the same :func:`webtrip.lab.sim.run` as ``webtrip sim`` — off its
event loop, builds the app's data from the trace
(:func:`webtrip.report.app_data.app_data`) and the page loads it into the
replay app (``window.webtrip.load``).

- :mod:`security` — who may talk to the app: the Host it is bound to only
  (no DNS rebinding), changes only from its own page as JSON, small bodies,
  and the headers that keep the page to itself;
- :mod:`params` — a run's parameters, checked, with one clear sentence per
  mistake in the visitor's language;
- :mod:`runs` — the run manager: a small queue, one warm worker process, every
  run bounded in virtual time, wall time and events, the last 20 kept;
- :mod:`app` — the Starlette application: the page, its files and the JSON API.
"""
