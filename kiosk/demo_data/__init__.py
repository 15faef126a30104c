"""Demo school: CSV exports in the MIS formats the importer accepts."""
