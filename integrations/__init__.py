"""The edges of Relay: one subpackage per vendor. Never imports FastAPI, SQLAlchemy or service/."""
