"""Lessons: a teacher's exercise about a run, answered from the student's own trace.

- :mod:`format` — the lesson file (TOML, ``format = 1``): reading and checking it,
  one sentence with file and line per mistake;
- :mod:`vocabulary` — the named facts about a trace that answer the questions
  (``handshake_ms``, ``segments``, ``referral_to``...) and the moments that
  ordering and prediction questions name;
- :mod:`engine` — each student's world (seed and variations from a keyed hash
  of their code), the run, the right answers, the marks and their feedback;
- ``bundled/`` — the lessons that come with webtrip, one folder each.

Lessons sit beside the command line: they run labs (:mod:`webtrip.lab`) and
read traces with the report's facts (:mod:`webtrip.report.facts`); only
:mod:`webtrip.cli` knows them.
"""

from webtrip.lessons.format import (
    FORMAT,
    Lesson,
    LessonError,
    Question,
    bundled_lessons,
    find_lesson,
    load_lesson,
)

__all__ = [
    "FORMAT",
    "Lesson",
    "LessonError",
    "Question",
    "bundled_lessons",
    "find_lesson",
    "load_lesson",
]
