"""The dashboard's routes, one module per page family; each page has the JSON endpoint it is built from."""

from safestreets.web.routes import (
    accountability,
    admin,
    anpr,
    anpr_analyses,
    briefings,
    data,
    forecasts,
    hubs,
    impact,
    intel,
    map,
    overview,
    plans,
)

ROUTERS = [overview.router, map.router, forecasts.router, plans.router, hubs.router, impact.router,
           briefings.router, data.router, accountability.router, intel.router, anpr.router,
           anpr_analyses.router, admin.router]  # fmt: skip
