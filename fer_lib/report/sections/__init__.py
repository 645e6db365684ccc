"""The report's sections, one per file; each turns the shared :class:`~fer_lib.report.context.Context` into Markdown."""
