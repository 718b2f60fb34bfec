"""The contract's vocabulary: the 15 standard metrics and the 13 profile attributes.

Source: TRIFFT's page "Standard Data TRIFFT Sends to Klaviyo" (copied in fixtures/seed/). Metric names are
spelled exactly as that page spells them; kinds are the envelope's snake_case names for the same events.
"""

from __future__ import annotations

from typing import Final

#: kind (the TRIFFT envelope's name) -> Klaviyo metric name, in the seed page's order.
METRIC_BY_KIND: Final[dict[str, str]] = {
    "member_verified": "Member verified",
    "coupon_assigned": "Coupon assigned",
    "coupon_activated": "Coupon activated",
    "coupon_redeemed": "Coupon redeemed",
    "transaction_created": "Transaction created",
    "wallet_credited": "Wallet credited",
    "wallet_debited": "Wallet debited",
    "profile_updated": "Profile updated",
    "app_opened": "App opened",
    "favorite_venue_changed": "Favorite venue changed",
    "added_to_segment": "Added to segment",
    "removed_from_segment": "Removed from segment",
    "language_changed": "Language changed",
    "referral_code_provided": "Referral code provided",
    "referral_invited": "Referral invited",
}
KIND_BY_METRIC: Final[dict[str, str]] = {name: kind for kind, name in METRIC_BY_KIND.items()}
STANDARD_KINDS: Final[tuple[str, ...]] = tuple(METRIC_BY_KIND)
METRIC_NAMES: Final[tuple[str, ...]] = tuple(METRIC_BY_KIND.values())
CUSTOM_WEBHOOK: Final = "custom_webhook"
ALL_KINDS: Final[tuple[str, ...]] = (*STANDARD_KINDS, CUSTOM_WEBHOOK)

#: The profile refresh: two Klaviyo profile attributes and the trifft_* custom properties.
#: trifft_tier is sent only when the project has tiers enabled; every member custom parameter is sent too.
PROFILE_ATTRIBUTES: Final[tuple[str, ...]] = ("locale", "external_id")
PROFILE_PROPERTIES: Final[tuple[str, ...]] = (
    "trifft_available_coupons",
    "trifft_coupons",
    "trifft_fav_location_id",
    "trifft_fav_location_name",
    "trifft_id",
    "trifft_points",
    "trifft_primary_card_id",
    "trifft_segments",
    "trifft_support_id",
    "trifft_tier",
)
