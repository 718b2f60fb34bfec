"""Words the fake TRIFFT builds its people, places and things from.

REALISTIC pools read like the seed page's samples (pubs, pints, "Welcome! " with its trailing space).
NASTY pools hold what breaks integrations: emoji, right-to-left text, combining marks, markup, quotes,
control characters, empty and padded strings, numeric-looking strings.
"""

from __future__ import annotations

from typing import Final

FIRST_NAMES: Final = (
    "Jane",
    "John",
    "Marie",
    "Luc",
    "Anna",
    "Piotr",
    "Sofia",
    "Lukas",
    "Emma",
    "Noah",
    "Chloé",
    "Mateo",
    "Zofia",
    "Daan",
    "Giulia",
    "Tomáš",
    "Olivia",
    "Hugo",
    "Léa",
    "Jan",
)
LAST_NAMES: Final = (
    "Doe",
    "Martin",
    "Dubois",
    "Kowalski",
    "Müller",
    "García",
    "de Vries",
    "Rossi",
    "Novák",
    "Smith",
    "Bernard",
    "Nowak",
    "Schmidt",
    "López",
    "Jansen",
    "O'Neill",
)
LOCALES: Final = ("en", "fr", "de", "es", "pl", "nl", "it", "cs")
EDGE_LOCALES: Final = ("pt-BR", "zh-Hant-TW", "ar", "he", "en-GB", "sr-Latn-RS", "fil")
CITIES: Final = (
    ("TOULOUSE ", "31000", "France"),
    ("PARIS", "75002", "France"),
    ("London", "EC1A 1BB", "United Kingdom"),
    ("Warszawa", "00-001", "Poland"),
    ("Berlin", "10115", "Germany"),
    ("Amsterdam", "1012 AB", "Netherlands"),
    ("Madrid", "28013", "Spain"),
)
VENUE_NAMES: Final = (
    "The Frog & Rosbif",
    "The Frog & Underground",
    "The Frog & British Library",
    "The Frog & Princess",
    "Le Comptoir",
    "Bar Centralny",
    "De Gouden Kikker",
    "El Sapo",
)
STREETS: Final = (
    "14 rue de l'Industrie ",
    "176 rue Montmartre ",
    "Aleje Jerozolimskie 7",
    "Kanaalstraat 3",
    "Calle Mayor 22",
    "Unter den Linden 5",
)
ITEMS: Final = (
    ("PINT - PARADISE IPA", 5.5),
    ("HALF - FROG BITTER", 3.2),
    ("BURGER CLASSIC", 14.9),
    ("FISH & CHIPS", 16.5),
    ("COKE 33CL", 3.0),
    ("NACHOS", 9.75),
    ("ESPRESSO", 2.2),
    ("CIDER - DRY", 5.9),
    ("SUNDAY ROAST", 18.0),
    ("CRISPS", 1.5),
)
COUPON_NAMES: Final = (
    ("Welcome! ", "Welcome to Club Frog! ", "Bienvenue au Club."),
    ("Free pint", "A free pint of house beer", "Show this at the bar."),
    (
        "£10 off your next order. (Minimum spend £20)",
        "£10 off your next order. (Minimum spend £20)",
        "Click the button below to activate your £10 voucher. Valid on purchases with a "
        "minimum spend of £20.",
    ),
    ("Birthday treat", "Happy birthday from the Frog", "One dessert on us."),
    ("2 for 1 burgers", "Two burgers for the price of one", None),
)
APP_VERSIONS: Final = ("2.1.5", "2.1.4", "2.2.0", "3.0.0-beta.1")
APP_PLATFORMS: Final = ("ios", "android", "web")
EMAIL_DOMAINS: Final = ("example.com", "example.org", "example.net")
TIERS: Final = (("Bronze", 0), ("Silver", 1_000), ("Gold", 5_000), ("Platinum", 20_000))
EDGE_TIERS: Final = (("Bronze", 0), ("Silver ", 1_000), ("Gold ⭐", 5_000), ("ذهبي", 20_000))
ENUM_DRINKS: Final = ("beer", "cider", "wine", "soft", "none")

NASTY_TEXT: Final = (
    "",
    " ",
    "   padded both sides   ",
    "trailing space ",
    "🍺🐸 Frog & Friends 🎉",
    "👩‍👩‍👧‍👦 family",
    "مرحبا بالنادي",
    "שלום חבר",
    "mixed עברית and English",
    "Zoë Ångström-Ñúñez",
    "e\u0301\u0301\u0301 combining",
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    'O\'Neill "The Frog" \\ backslash',
    "line one\nline two\ttabbed",
    "nul\u0000byte",
    "\u200b zero width \u200d joiner \ufeff bom",
    "0042",
    "1e3",
    "null",
    "true",
    "x" * 2000,
)
NASTY_EMAIL_LOCALS: Final = ("Jane.Doe", "jane+loyalty", "zoë", "o'neill", "UPPER.CASE", "a")
NASTY_EMAIL_DOMAINS: Final = ("Example.COM", "bücher.example", "example.com ", "sub.example.co.uk")
