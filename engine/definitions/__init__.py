"""What process owners deploy: reading, checking and versioning BPMN, DMN and form files."""
