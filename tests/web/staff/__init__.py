"""Staff at work: the inbox, doing a step, finding work, notices and attachments."""
