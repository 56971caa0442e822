"""The dashboard's routes, one module per page family; each page has the JSON endpoint it is built from."""

from safestreets.web.routes import admin, briefings, data, forecasts, hubs, impact, map, overview, plans

ROUTERS = [overview.router, map.router, forecasts.router, plans.router, hubs.router, impact.router,
           briefings.router, data.router, admin.router]  # fmt: skip
