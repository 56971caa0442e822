"""Fictional names for boroughs, stations, parks, streets, pubs, bars and BCUs.

Combinations may match real places by chance.
"""

from __future__ import annotations

import numpy as np

# fmt: off
_PLACE_STEMS: tuple[str, ...] = (
    "Ash", "Bram", "Brad", "Brook", "Burn", "Castle", "Clay", "Cold", "Elm", "Fair", "Fern", "Glen",
    "Green", "Hal", "Hare", "Hart", "Heath", "High", "Holm", "Kirk", "Lang", "Lind", "Long", "Marl",
    "Marsh", "Mill", "Moor", "Nether", "Oak", "Old", "Pen", "Rad", "Red", "Ridge", "Rother", "Salt", "Sand",
    "Shel", "Stan", "Stain", "Stock", "Stone", "Sut", "Thorn", "Thorp", "Wal", "War", "Wes", "Whit", "Wick",
    "Wind", "Wood", "Wors", "Yar", "Ald", "Bex", "Cal", "Dun", "Eck", "Farn", "Gar", "Hep", "Ing", "Ket",
    "Lox", "Nor", "Ors", "Pud", "Rast", "Sil", "Tod", "Cliff", "Bur", "Crom", "Fox", "Hol", "Kel", "Med",
    "Ravens", "Shep",
)
_PLACE_SUFFIXES: tuple[str, ...] = (
    "ford", "ley", "ton", "by", "field", "wick", "ham", "bury", "worth", "dale", "gate", "thorpe", "stead",
    "bridge", "combe", "well", "borough", "hurst", "den", "wood", "holme", "cliffe", "shaw", "low",
    "ington",
)
STREET_STEMS: tuple[str, ...] = (
    "Albert", "Albion", "Alexandra", "Beech", "Birch", "Bridge", "Broad", "Brook", "Castle", "Cemetery",
    "Chapel", "Cherry", "Church", "Clarence", "Cliff", "Commercial", "Cross", "Dale", "Derby", "Devonshire",
    "Duke", "East", "Elm", "Field", "Forest", "Garden", "George", "Gladstone", "Grange", "Green", "Hall",
    "Hawthorn", "High", "Hill", "Holly", "Howard", "John", "King", "Lime", "Lodge", "Manor", "Maple",
    "Market", "Mill", "Moor", "Mount", "Nelson", "New", "North", "Oak", "Orchard", "Park", "Poplar",
    "Priory", "Princess", "Queen", "Railway", "Regent", "Richmond", "Rose", "School", "Spring", "Stanley",
    "Sycamore", "Union", "Vicarage", "Victoria", "Water", "Well", "West", "Willow", "Windsor", "York",
    "Ash", "Bank", "Belle Vue", "Carr", "Crown", "Cavendish", "Meadow", "Oxford", "Prospect", "Wharf",
    "Tower", "Woodland", "Valley", "Waterloo", "Wellington", "Marlborough", "Hanover", "Fountain",
    "Shaftesbury", "Chestnut", "Laurel", "Heather", "Rowan", "Thornhill", "Ingram", "Peel", "Cobden",
    "Milton", "Byron", "Shelley", "Kingsley", "Lister", "Salisbury", "Stafford", "Granville", "Edward",
    "Frederick", "William", "Arthur", "Florence", "Grosvenor", "Buckingham", "Highfield", "Westfield",
    "Southfield", "Fairfield", "Broadway", "Silver", "Gold", "Copper", "Foundry", "Tannery", "Dyehouse",
)
STREET_SUFFIXES: tuple[str, ...] = (
    "Road", "Street", "Lane", "Avenue", "Close", "Drive", "Grove", "Terrace", "Crescent", "Place", "Way",
    "Gardens", "Court", "Row", "Walk", "Mount", "View",
)
# fmt: on
STREET_SUFFIX_P = np.array([30, 25, 10, 7, 6, 4, 4, 4, 3, 3, 2, 1, 1, 0.5, 0.5, 0.5, 0.5])
# fmt: off
PUB_ADJ: tuple[str, ...] = (
    "Red", "White", "Black", "Golden", "Royal", "Old", "Green", "Blue", "Grey", "Jolly", "Noble", "Rising",
)
PUB_NOUN: tuple[str, ...] = (
    "Lion", "Hart", "Swan", "Horse", "Bell", "Crown", "Anchor", "Plough", "Star", "Fox", "Bull", "Stag",
    "Dragon", "Sun", "Oak", "Cock", "Ship", "Boar", "Falcon", "Griffin", "Unicorn", "Hound",
)
BAR_WORDS: tuple[str, ...] = (
    "Neon", "Velvet", "Vault", "Foundry", "Mill", "Lantern", "Arches", "Warehouse", "Loft", "Cellar",
    "Junction", "Signal", "Copper", "Echo", "Pulse", "Atlas", "Orbit", "Mosaic", "Tangent", "Ember",
)
# fmt: on
BCU_DIRECTIONS = ("East", "North East", "North", "North West", "West", "South West", "South", "South East")


class Names:
    """Fictional place names, unique across the run (boroughs, stations, parks)."""

    def __init__(self, rng: np.random.Generator) -> None:
        pool = [s + x for s in _PLACE_STEMS for x in _PLACE_SUFFIXES]
        self._pool = [pool[i] for i in rng.permutation(len(pool))]
        self._next = 0

    def place(self) -> str:
        name = self._pool[self._next % len(self._pool)]
        rounds = self._next // len(self._pool)
        self._next += 1
        return name if rounds == 0 else f"{name} {rounds + 1}"
