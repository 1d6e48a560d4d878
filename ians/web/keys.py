"""Typed application state."""

from aiohttp import web

from ians.consultations import Consultations
from ians.domain.contacts import Registry
from ians.exercises import Exercises
from ians.links import Links
from ians.services import Services
from ians.sessions import Sessions
from ians.tokens import Tokens
from ians.tracking import Tracker

registry_key = web.AppKey("registry", Registry)
tracker_key = web.AppKey("tracker", Tracker)
tokens_key = web.AppKey("tokens", Tokens)
exercises_key = web.AppKey("exercises", Exercises)
consultations_key = web.AppKey("consultations", Consultations)
body_timeout_key = web.AppKey("body_timeout", float)  # seconds a request body may take
links_key = web.AppKey("links", Links)
services_key = web.AppKey("services", Services)  # every running part, for tests and tools
sessions_key = web.AppKey("sessions", Sessions)  # the web pages' sessions
