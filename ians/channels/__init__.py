"""External delivery channels: e-mail out (SMTP) and in (replies, bounces)."""
