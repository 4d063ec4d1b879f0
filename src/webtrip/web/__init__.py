"""Steps 2 and 3 of a page load, at the server: HTTP/1.1 and static files.

- :mod:`~webtrip.web.http1` turns a connection's bytes into requests (llhttp
  through httptools, plus the limits and refusals a public server needs) and
  writes response heads;
- :mod:`~webtrip.web.sites` maps Host headers to site folders and URL paths
  to files without ever leaving the folder;
- :mod:`~webtrip.web.files` decides what to send for a file: type,
  validators, 304, ranges, gzip;
- :mod:`~webtrip.web.pages` holds the small HTML pages the server writes;
- :mod:`~webtrip.web.server` is the web server actor.
"""
