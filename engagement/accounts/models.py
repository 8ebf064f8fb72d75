"""The user model (email login) and the four roles."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_single_line


class Role(models.TextChoices):
    """Roles are auth groups with these names; permissions hang off the groups."""

    RESIDENT = "resident", _("Resident")
    COUNCILLOR = "councillor", _("Councillor")
    STAFF = "staff", _("Democratic services staff")
    ADMIN = "admin", _("Council admin")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(
        _("name"), max_length=150, blank=True, validators=[validate_single_line]
    )
    postcode = models.ForeignKey(
        "places.Postcode",
        verbose_name=_("postcode"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ward = models.ForeignKey(
        "places.Ward",
        verbose_name=_("ward"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="residents",
    )
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=[("en-gb", _("English")), ("cy", _("Welsh"))],
        default="en-gb",
    )
    is_staff = models.BooleanField(
        _("Django admin access"),
        default=False,
        help_text=_("Set by the staff and admin roles; do not edit by hand."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email

    def role_names(self) -> set[str]:
        """The user's role names, cached on the instance for the request."""
        cached = getattr(self, "_role_names", None)
        if cached is None:
            valid = set(Role.values)
            cached = {g.name for g in self.groups.all() if g.name in valid}
            self._role_names = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        return self.is_active and bool(self.role_names() & set(roles))

    @property
    def is_council_staff(self) -> bool:
        """Democratic services staff or admin: the roles that must use two-factor."""
        return self.has_role(Role.STAFF, Role.ADMIN)

    @property
    def is_council_admin(self) -> bool:
        return self.has_role(Role.ADMIN)
