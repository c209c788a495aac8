"""The one exception an import stops with.

Its message is a single line for the writer: the file or item, what is wrong
with it and what was expected. The invoke tasks print it and exit with status 1;
nothing under content/ has been changed when it is raised.
"""


class ImportFailed(Exception):
    """An export (or an option) the importer cannot use; the message says why."""
