"""The repositories of the transactional store: the storage surface other packages use.

Each takes a :class:`openami.storage.sql.Database` (from
:func:`openami.storage.sql.open_database`, which also hands them out as properties) and runs
each of its methods in one transaction, on SQLite or PostgreSQL alike:

- ``registry`` (:class:`RegistryRepository`, with ``registry_reads`` and
  ``registry_dashboard``): supply points, meters, retailers, balancing groups, concentrators,
  meter installations and supply contracts; used only by :class:`openami.registry.Registry`;
- ``clients`` (:class:`ClientStore`, :class:`ApiClient`): C-route API clients and their
  access tokens (client credentials);
- ``oauth`` (:class:`OAuthStore`): redirect URIs, authorization codes, token pairs with
  refresh rotation and reuse detection;
- ``consents`` (:class:`ConsentStore`, :class:`Consent`): customers and their consents;
- ``requests`` (:class:`RequestStore`, :class:`RequestRow`, :class:`JobRow`): retailer
  requests with their status history, data jobs and their result chunks;
- ``webhooks`` (:class:`WebhookStore`, :class:`Subscription`, :class:`Delivery`):
  subscriptions (secrets sealed under the master key), the delivery queue, the
  notification watermark;
- ``audit`` (:class:`AuditLog`, :class:`AuditRecord`): the append-only log, chained with
  HMAC-SHA-256 under a key kept outside the database, with signed checkpoints
  (``audit_checkpoints``);
- ``settings`` (:class:`SettingsStore`): named settings such as the ESPI id key (sealed);
- ``croute``: read-only counts and pages for the dashboard's C-route page.
- ``broute_apps`` (:class:`BrouteApplicationStore`): B-route service applications, the
  issued ID and sealed password, what each meter was confirmed to hold.
- ``balancing`` (:class:`DemandPlanStore`): balancing groups' demand plans, versioned;
  ``loss_factors`` (:class:`LossFactorStore`): loss rates per area and voltage class.

Errors: a refused change raises a subclass of :class:`openami.storage.sql.StorageError`
(``AlreadyExists``, ``MissingReference``, ``InvalidValue``, ``Conflict``), never a driver
exception.

``Database``, ``open_database`` and the errors are re-exported here from the internals.
"""

from openami.storage.sql import (
    DATA_DIR_FILE,
    AlreadyExists,
    Conflict,
    Database,
    InvalidValue,
    MissingReference,
    StorageError,
    open_database,
    open_in_data_dir,
)

__all__ = [
    "DATA_DIR_FILE",
    "AlreadyExists",
    "Conflict",
    "Database",
    "InvalidValue",
    "MissingReference",
    "StorageError",
    "open_database",
    "open_in_data_dir",
]
