"""The console's first page: sales of today and of the week, and what is running out."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject

from shop.application import commands
from shop.application.messagebus import MessageBus
from shop.application.overview import LOW_STOCK
from shop.container import Container
from shop.entrypoints.console.blueprint import blp, page
from shop.entrypoints.console.signin import current_manager, manager_required


@blp.get("/")
@manager_required
@inject
def home(bus: MessageBus = Provide[Container.bus]) -> Any:
    return page("home.html", overview=bus.handle(commands.ShowOverview(actor=current_manager())), low_stock=LOW_STOCK)
