"""Fixed vocabularies the generator draws from (deterministic: order matters)."""

from world.person_names import FIRST_NAMES as FIRST_NAMES
from world.person_names import LAST_NAMES as LAST_NAMES

EMAIL_DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "gmx.de",
    "orange.fr",
    "libero.it",
    "ziggo.nl",
    "btinternet.com",
    "eircom.net",
]

# (country, currency, weight, cities)
COUNTRIES = [
    ("US", "USD", 0.42, ["New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Austin"]),
    ("CA", "USD", 0.06, ["Toronto", "Vancouver", "Montreal"]),
    ("GB", "GBP", 0.14, ["London", "Manchester", "Bristol", "Leeds", "Edinburgh"]),
    ("IE", "EUR", 0.03, ["Dublin", "Cork", "Galway"]),
    ("DE", "EUR", 0.11, ["Berlin", "Hamburg", "Munich", "Cologne"]),
    ("FR", "EUR", 0.08, ["Paris", "Lyon", "Marseille", "Toulouse"]),
    ("NL", "EUR", 0.05, ["Amsterdam", "Rotterdam", "Utrecht"]),
    ("ES", "EUR", 0.05, ["Madrid", "Barcelona", "Valencia"]),
    ("IT", "EUR", 0.04, ["Rome", "Milan", "Turin"]),
    ("AU", "USD", 0.02, ["Sydney", "Melbourne"]),
]

CURRENCIES = ["USD", "EUR", "GBP"]
# Units of currency per 1 USD, used to price items in the order's currency. The warehouse
# converts back with the rates in seeds/fx_rates.csv (USD per unit), which are the inverses.
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}

ORDER_STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
CHANNELS = ["web", "ios", "android", "marketplace"]
PAYMENT_METHODS = ["card", "paypal", "gift_card", "bank_transfer"]
PAYMENT_STATUSES = ["authorized", "captured", "failed", "refunded"]
UTM_SOURCES = ["newsletter", "facebook", "google", "instagram", "tiktok"]
# utm_campaign values seen on orders that no HubSpot campaign tracks.
UNTRACKED_UTM_CAMPAIGNS = [
    "summer_promo_legacy",
    "fb_lookalike_3",
    "affiliate_spring",
    "influencer_q2",
    "brand_search",
]

WAREHOUSES = ["AMS1", "DAL1", "SIN1"]
WAREHOUSE_PRESENCE = [0.9, 0.6, 0.3]

# Category tree: top level -> second level -> leaves.
CATEGORY_TREE: dict[str, dict[str, list[str]]] = {
    "Apparel": {
        "Men": ["Shirts", "Trousers", "Jackets"],
        "Women": ["Dresses", "Tops", "Skirts"],
        "Kids": ["Baby", "Boys", "Girls"],
    },
    "Footwear": {
        "Sneakers": ["Running", "Lifestyle"],
        "Boots": ["Hiking Boots", "Chelsea Boots"],
        "Sandals": ["Slides", "Flip Flops"],
    },
    "Electronics": {
        "Audio": ["Headphones", "Speakers", "Earbuds"],
        "Computing": ["Laptops", "Keyboards", "Monitors"],
        "Phones": ["Cases", "Chargers"],
    },
    "Home & Kitchen": {
        "Cookware": ["Pans", "Pots", "Knives"],
        "Decor": ["Lamps", "Rugs", "Cushions"],
        "Storage": ["Boxes", "Shelves"],
    },
    "Beauty": {
        "Skincare": ["Moisturisers", "Cleansers", "Serums"],
        "Haircare": ["Shampoo", "Conditioner"],
    },
    "Sports & Outdoors": {
        "Fitness": ["Yoga Mats", "Dumbbells"],
        "Camping": ["Tents", "Sleeping Bags", "Stoves"],
        "Cycling": ["Helmets", "Bike Lights"],
    },
    "Toys & Games": {
        "Board Games": ["Strategy", "Family"],
        "Building": ["Blocks", "Models"],
    },
    "Books": {
        "Fiction": ["Crime", "Fantasy", "Romance"],
        "Non-fiction": ["Cookbooks", "Travel", "Business"],
    },
}

BRANDS = [
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Adventure Works",
    "Litware",
    "Proseware",
    "Wingtip",
    "Coho",
    "Alpine Ski House",
    "Blue Yonder",
    "Fourth Coffee",
    "Lucerne",
    "Margie's",
    "Trey Research",
    "Wide World",
    "Humongous",
    "Graphic Design Institute",
    "Southridge",
    "Woodgrove",
]
ADJECTIVES = [
    "Classic",
    "Essential",
    "Premium",
    "Everyday",
    "Pro",
    "Lite",
    "Urban",
    "Trail",
    "Studio",
    "Eco",
    "Heritage",
    "Sport",
    "Comfort",
    "Signature",
    "Compact",
    "Deluxe",
]
COLORS = ["black", "white", "navy", "grey", "red", "green", "beige", "blue"]
SIZES = ["XS", "S", "M", "L", "XL"]
MATERIALS = ["cotton", "wool", "steel", "aluminium", "bamboo", "leather", "polyester"]

# HubSpot vocabularies.
LIFECYCLE_STAGES = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]
INDUSTRIES = [
    "RETAIL",
    "APPAREL_FASHION",
    "CONSUMER_ELECTRONICS",
    "COMPUTER_SOFTWARE",
    "MARKETING_AND_ADVERTISING",
    "SPORTING_GOODS",
    "FOOD_BEVERAGES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "COSMETICS",
    "PUBLISHING",
]
DEAL_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Gringotts",
    "Oceanic",
    "Massive",
    "Dynamic",
    "Bright",
    "Summit",
    "Pioneer",
    "Nimbus",
    "Quantum",
    "Vertex",
    "Aurora",
    "Zenith",
]
COMPANY_SUFFIXES = ["Ltd", "GmbH", "Inc", "BV", "SAS", "Group", "Labs", "Retail", "Trading"]
CAMPAIGN_THEMES = [
    "Spring Sale",
    "Summer Launch",
    "Back to School",
    "Black Friday",
    "Cyber Monday",
    "Holiday Gift Guide",
    "New Year Reset",
    "Valentine Edit",
    "Outdoor Week",
    "Loyalty Boost",
    "Flash Friday",
    "Clearance",
    "Member Preview",
    "Brand Relaunch",
    "App Exclusive",
    "Free Shipping Weekend",
    "Earth Day",
    "Mother's Day",
    "Father's Day",
    "Singles Day",
]
