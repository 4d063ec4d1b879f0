"""Views: pure functions from recorded data to text, tables and files.

Nothing here touches the network or an actor; each view reads a trace (or a
result an actor returned) and produces something for a person or a program.
"""
