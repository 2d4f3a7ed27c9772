"""What leaves the centre or reaches a person: notifications, replies to customers, attachments."""
