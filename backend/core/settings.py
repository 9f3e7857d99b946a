"""Settings of the whole product, read once from the environment (prefix ``IKKI_``)."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "ikki-development-secret-do-not-use-in-production"
MQTT_DEVELOPMENT_PASSWORD = "ikki-backend-development-password"


class Settings(BaseSettings):
    """Every setting of Ikki. Unsafe development defaults are rejected in production."""

    model_config = SettingsConfigDict(env_prefix="IKKI_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""

    secret_key: str = DEVELOPMENT_SECRET
    # Fernet key (urlsafe base64 of 32 bytes) that encrypts device keys at rest.
    device_key_encryption_key: str = ""
    session_cookie_secure: bool | None = None
    session_max_age_s: int = 14 * 24 * 3600

    max_upload_bytes: int = Field(default=1_000_000, description="largest accepted upload, in bytes")

    mqtt_broker: Literal["embedded", "external"] = "embedded"
    mqtt_host: str = "127.0.0.1"
    # 1884, not 1883, so the embedded broker starts beside a system Mosquitto.
    mqtt_port: int = 1884
    mqtt_username: str = "ikki-backend"
    mqtt_password: str = MQTT_DEVELOPMENT_PASSWORD
    mqtt_max_payload_bytes: int = 4096
    # Host and port that stickers connect to, by default mqtt_host and mqtt_port. Mosquitto
    # gives the stickers a listener of their own, so set a different port there.
    mqtt_device_host: str = ""
    mqtt_device_port: int = 0
    # The broker keeps the queued events of a persistent session under this client id while
    # ingestion is away, so it must stay the same across restarts. Give every ingestion
    # process its own id, starting with "ikki-" as no device id may.
    mqtt_ingest_client_id: str = "ikki-ingestion"
    # When set, ingestion processes share the event topics as $share/<group>/... so that each
    # event reaches one of them. Mosquitto 2 supports shared subscriptions, amqtt 0.12 does not.
    mqtt_ingest_shared_group: str = ""
    mqtt_keepalive_s: int = Field(default=30, ge=5, description="MQTT keep-alive, in seconds")
    mqtt_reconnect_max_delay_s: float = Field(
        default=30.0, gt=0, description="longest wait between two connection attempts, in seconds"
    )
    mqtt_ingest_attempts: int = Field(
        default=3, ge=1, description="attempts to store one message before ingestion gives up on it"
    )
    mqtt_redelivery_delay_s: float = Field(
        default=5.0, ge=0, description="wait before reconnecting to get unacknowledged messages again, in seconds"
    )

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Ikki <no-reply@ikki.example>"

    telephony_provider: Literal["local", "rest"] = "local"
    espeak_command: str = "espeak-ng"

    # --- Collection ------------------------------------------------------------------------
    # Run the collection ladder's daily run in the in-process scheduler of ``ikki up``.
    collection_scheduler: bool = True
    collection_scheduler_interval_s: float = Field(default=300.0, gt=0,
                                                   description="seconds between two daily-run checks")
    # Calls start only on Belgian working days (Monday to Friday, no public holiday), from
    # call_hours_start:00 to before call_hours_end:00, Europe/Brussels.
    call_hours_start: int = Field(default=9, ge=0, le=23)
    call_hours_end: int = Field(default=18, ge=1, le=24)
    call_max_attempts: int = Field(default=3, ge=1, le=10, description="attempts per call on no answer or busy")
    call_retry_delay_minutes: int = Field(default=120, ge=1, description="minutes before calling again")
    # REST telephony provider. An empty base URL disables it; nothing is sent anywhere then.
    telephony_rest_base_url: str = ""
    telephony_rest_account: str = ""
    telephony_rest_token: str = ""
    telephony_caller_id: str = ""
    # Shared secret of the provider's signed status callbacks (HMAC-SHA256).
    telephony_webhook_secret: str = ""
    # --- end of collection -----------------------------------------------------------------

    worker_in_process: bool = True
    worker_poll_interval_s: float = 0.5
    virtual_sticker: bool = True

    factory_token: str = ""

    # Platform fees, in euros per approved hour, excluding VAT. The debtor management fee is
    # added to the freelancer's fee on contracts where the freelancer chose debtor management.
    platform_fee_freelancer_per_hour: Decimal = Decimal("2.50")
    platform_fee_client_per_hour: Decimal = Decimal("2.50")
    platform_fee_debtor_management_per_hour: Decimal = Decimal("2.00")

    # --- Invoicing -------------------------------------------------------------------------
    # Peppol access point that sends issued invoices. "none": no access point is configured,
    # so the UBL file is offered for download and attached to the invoice e-mail.
    invoicing_peppol_provider: Literal["none"] = "none"
    # The platform as the supplier of its monthly fee invoices. The development values are
    # fictitious; production requires real ones (checked below).
    platform_billing_email: str = "billing@ikki.example"
    platform_name: str = "Ikki"
    platform_registration_name: str = "Ikki SRL"
    platform_street: str = "Rue de l'Exemple 1"
    platform_postal_code: str = "1000"
    platform_city: str = "Bruxelles"
    platform_country: str = "BE"
    platform_enterprise_number: str = "0876543270"
    platform_vat_number: str = "BE0876543270"
    platform_iban: str = "BE71096123456769"
    platform_bic: str = ""
    platform_fee_payment_terms_days: int = Field(default=14, ge=0, le=120,
                                                 description="days the platform's fee invoices give to pay")
    # --- end of invoicing ------------------------------------------------------------------

    demo_email: str = "demo@ikki.example"
    demo_password: str = "demo-ikki-2026"

    @model_validator(mode="after")
    def _fill_and_check(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'ikki.db'}"
        if not self.base_url:
            self.base_url = f"http://{self.host}:{self.port}"
        if not self.device_key_encryption_key:
            digest = hashlib.sha256(("device-keys:" + self.secret_key).encode()).digest()
            self.device_key_encryption_key = base64.urlsafe_b64encode(digest).decode()
        if not self.mqtt_device_host:
            self.mqtt_device_host = self.mqtt_host
        if not self.mqtt_device_port:
            self.mqtt_device_port = self.mqtt_port
        if self.session_cookie_secure is None:
            self.session_cookie_secure = self.base_url.startswith("https://")
        if self.environment == "production":
            if self.secret_key == DEVELOPMENT_SECRET:
                raise ValueError("IKKI_SECRET_KEY must be set to a long random value in production")
            if not self.session_cookie_secure:
                raise ValueError("IKKI_BASE_URL must be https:// in production")
            if self.mqtt_password == MQTT_DEVELOPMENT_PASSWORD:
                raise ValueError("IKKI_MQTT_PASSWORD must be set to a long random value in production")
        return self

    @model_validator(mode="after")
    def _check_platform_supplier(self) -> "Settings":
        """Refuse the fictitious platform supplier in production: fee invoices would be invalid."""
        if self.environment == "production" and self.platform_enterprise_number == "0876543270":
            raise ValueError("IKKI_PLATFORM_ENTERPRISE_NUMBER and the other IKKI_PLATFORM_* settings "
                             "must describe the real platform company in production")
        return self

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def calls_dir(self) -> Path:
        return self.data_dir / "calls"


@lru_cache
def get_settings() -> Settings:
    return Settings()
