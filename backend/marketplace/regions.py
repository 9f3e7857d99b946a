"""Belgian provinces and the Brussels-Capital Region, and how far a freelancer travels."""

from __future__ import annotations

import math
from collections.abc import Iterable

from backend.marketplace.labels import gettext_noop

# ISO 3166-2:BE codes. The English name is the msgid; catalogs give the French and Dutch.
REGION_NAMES: dict[str, str] = {
    "BE-BRU": gettext_noop("Brussels-Capital"),
    "BE-VAN": gettext_noop("Antwerp"),
    "BE-VBR": gettext_noop("Flemish Brabant"),
    "BE-VLI": gettext_noop("Limburg"),
    "BE-VOV": gettext_noop("East Flanders"),
    "BE-VWV": gettext_noop("West Flanders"),
    "BE-WBR": gettext_noop("Walloon Brabant"),
    "BE-WHT": gettext_noop("Hainaut"),
    "BE-WLG": gettext_noop("Liège"),
    "BE-WLX": gettext_noop("Luxembourg"),
    "BE-WNA": gettext_noop("Namur"),
}
REGIONS = tuple(REGION_NAMES)

# Latitude and longitude of each province capital (Brussels, Antwerp, Leuven, Hasselt, Ghent,
# Bruges, Wavre, Mons, Liège, Arlon, Namur), in degrees.
CAPITALS: dict[str, tuple[float, float]] = {
    "BE-BRU": (50.8467, 4.3525),
    "BE-VAN": (51.2194, 4.4025),
    "BE-VBR": (50.8798, 4.7005),
    "BE-VLI": (50.9307, 5.3325),
    "BE-VOV": (51.0543, 3.7174),
    "BE-VWV": (51.2093, 3.2247),
    "BE-WBR": (50.7172, 4.6014),
    "BE-WHT": (50.4542, 3.9523),
    "BE-WLG": (50.6326, 5.5797),
    "BE-WLX": (49.6833, 5.8167),
    "BE-WNA": (50.4674, 4.8720),
}

EARTH_RADIUS_KM = 6371.0
MAX_TRAVEL_KM = 300


def distance_km(first: str, second: str) -> float:
    """Great-circle distance between the capitals of two regions, in km.

    An estimate of the travel distance: roads are longer, and a province is wider than its capital.
    """
    lat1, lon1 = (math.radians(value) for value in CAPITALS[first])
    lat2, lon2 = (math.radians(value) for value in CAPITALS[second])
    half_chord = (math.sin((lat2 - lat1) / 2) ** 2
                  + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(half_chord))


def reachable_regions(home: str, travel_km: int, travel_regions: Iterable[str]) -> set[str]:
    """Return the regions a freelancer works in on site: home, chosen, and those within travel_km."""
    reach = {home, *travel_regions}
    for region in REGIONS:
        if distance_km(home, region) <= travel_km:
            reach.add(region)
    return reach


def region_name(code: str | None, gettext) -> str:
    if code is None:
        return ""
    return gettext(REGION_NAMES.get(code, code))


def sorted_region_choices(gettext) -> list[tuple[str, str]]:
    """Return (code, translated name) pairs in the reader's alphabetical order."""
    return sorted(((code, gettext(name)) for code, name in REGION_NAMES.items()), key=lambda pair: pair[1])
