#!/usr/bin/env bash
# Refresh engagement/locale/cy/LC_MESSAGES/django.po from the project's sources, django-allauth's
# (account, mfa and its templates) and Django's form/password-validation messages, keeping every
# existing translation. See README.md beside this.
#
# Needs GNU gettext (xgettext, msgcat, msgmerge, msgattrib). Run from anywhere:
#   bash engagement/locale/update-catalogue.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
SETTINGS="${DJANGO_SETTINGS_MODULE:-engagement.settings.test}"
PO="engagement/locale/cy/LC_MESSAGES/django.po"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 1. The project's strings, from the repo root so templates/ and the module apps are covered too.
#    "-x cy --keep-pot" writes only the template (engagement/locale/django.pot): makemessages' own
#    merge must not run, because it would drop the allauth entries (they are not in our sources).
rm -f engagement/locale/django.pot
"$PY" manage.py makemessages -x cy --keep-pot --settings="$SETTINGS" \
    --ignore=.venv --ignore=node_modules --ignore=engagement/static --ignore=bench --ignore=tests \
    --ignore=var
mv engagement/locale/django.pot "$WORK/project.pot"

# 2. django-allauth's strings for the apps residents meet: account, mfa and the shared templates.
#    Extracted from a pruned copy of the installed package (allauth ships no Welsh catalogue).
ALLAUTH="$("$PY" -c 'import allauth, os; print(os.path.dirname(allauth.__file__))')"
mkdir -p "$WORK/aa/locale"
cp -r "$ALLAUTH" "$WORK/aa/allauth"
(
    cd "$WORK/aa/allauth"
    find . -name __pycache__ -prune -exec rm -rf {} +
    rm -rf locale socialaccount usersessions headless idp \
        templates/socialaccount templates/usersessions templates/idp templates/openid
)
(cd "$WORK/aa" && "$PY" "$ROOT/manage.py" makemessages -x cy --keep-pot --settings="$SETTINGS")
mv "$WORK/aa/locale/django.pot" "$WORK/allauth.pot"

# 3. Django's own form-field, validator and password-validation messages, which residents see on
#    every form (signup shows the password rules). Django's Welsh catalogue predates the 5.x msgids
#    (curly apostrophes, %d) and leaves several untranslated, so English would leak through; our
#    LOCALE_PATHS catalogue takes precedence over Django's.
DJANGO="$("$PY" -c 'import django, os; print(os.path.dirname(django.__file__))')"
mkdir -p "$WORK/dj/locale"
for f in contrib/auth/password_validation.py core/validators.py forms/fields.py forms/forms.py \
    forms/formsets.py; do
    mkdir -p "$WORK/dj/django/$(dirname "$f")"
    cp "$DJANGO/$f" "$WORK/dj/django/$f"
done
(cd "$WORK/dj" && "$PY" "$ROOT/manage.py" makemessages -x cy --keep-pot --settings="$SETTINGS")
mv "$WORK/dj/locale/django.pot" "$WORK/django.pot"

# 4. One template: the project's entries first (their locations win on shared msgids).
msgcat --use-first -o "$WORK/all.pot" "$WORK/project.pot" "$WORK/allauth.pot" "$WORK/django.pot"

# 5. Merge into the Welsh catalogue, dropping entries no source uses any more.
if [ -f "$PO" ]; then
    msgmerge --quiet --previous -o "$WORK/merged.po" "$PO" "$WORK/all.pot"
    msgattrib --no-obsolete -o "$PO" "$WORK/merged.po"
else
    mkdir -p "$(dirname "$PO")"
    msginit --no-translator --locale=cy --input="$WORK/all.pot" --output-file="$PO"
    # Welsh plural rule exactly as Django's own cy catalogue (django/conf/locale/cy) has it.
    sed -i -e 's/^"Project-Id-Version: .*/"Project-Id-Version: moot\\n"/' \
        -e 's/^"Plural-Forms: .*/"Plural-Forms: nplurals=4; plural=(n==1) ? 0 : (n==2) ? 1 : (n != 8 \&\& n != 11) ? 2 : 3;\\n"/' \
        "$PO"
fi

# 6. What is left to do.
echo "project msgids: $(grep -c '^msgid ' "$WORK/project.pot" | awk '{print $1-1}')"
echo "allauth msgids: $(grep -c '^msgid ' "$WORK/allauth.pot" | awk '{print $1-1}')"
echo "django msgids:  $(grep -c '^msgid ' "$WORK/django.pot" | awk '{print $1-1}')"
echo "catalogue:"
msgfmt --check --statistics -o /dev/null "$PO"
echo "untranslated: $(msgattrib --untranslated --no-obsolete "$PO" | grep -c '^msgid ' | awk '{print ($1>0)?$1-1:0}')"
echo "fuzzy:        $(msgattrib --only-fuzzy --no-obsolete "$PO" | grep -c '^msgid ' | awk '{print ($1>0)?$1-1:0}')"
