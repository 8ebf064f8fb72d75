"""The standard list of reasons for rejecting a petition (admins edit it afterwards)."""

from django.db import migrations

REASONS = [
    ("duplicate", "Duplicate", "Dyblyg",
     "There is already a petition about this. Please sign that one instead.",
     "Mae deiseb am hyn eisoes. Llofnodwch honno yn lle hynny.", False),
    ("not-council", "Not the council's responsibility", "Nid cyfrifoldeb y cyngor",
     "This is not something the council is responsible for.",
     "Nid yw hyn yn rhywbeth y mae’r cyngor yn gyfrifol amdano.", False),
    ("no-action", "No action asked for", "Dim cam gweithredu",
     "The petition does not ask the council to do something it could do.",
     "Nid yw’r ddeiseb yn gofyn i’r cyngor wneud rhywbeth y gallai ei wneud.", False),
    ("already-happening", "Already happening", "Eisoes yn digwydd",
     "The council is already doing what the petition asks.",
     "Mae’r cyngor eisoes yn gwneud yr hyn y mae’r ddeiseb yn gofyn amdano.", False),
    ("honours", "About an honour or appointment", "Am anrhydedd neu benodiad",
     "Petitions cannot be about honours or appointments.",
     "Ni all deisebau ymwneud ag anrhydeddau na phenodiadau.", False),
    ("legal", "A legal matter", "Mater cyfreithiol",
     "It is about a matter before the courts or a planning or licensing decision with its own "
     "appeal process.",
     "Mae’n ymwneud â mater gerbron y llysoedd neu benderfyniad cynllunio neu drwyddedu sydd â’i "
     "broses apelio ei hun.", False),
    ("offensive", "Offensive or defamatory", "Sarhaus neu ddifenwol",
     "It contains language that is offensive, defamatory or discriminatory.",
     "Mae’n cynnwys iaith sy’n sarhaus, yn ddifenwol neu’n gwahaniaethu.", True),
    ("personal-data", "Reveals personal data", "Yn datgelu data personol",
     "It contains information that could identify a person.",
     "Mae’n cynnwys gwybodaeth a allai adnabod rhywun.", True),
    ("advert", "Advertising or spam", "Hysbysebu neu sbam",
     "It advertises a product or service, or is spam.",
     "Mae’n hysbysebu cynnyrch neu wasanaeth, neu’n sbam.", True),
]


def create(apps, schema_editor):
    RejectionReason = apps.get_model("consultations", "RejectionReason")
    for code, label, label_cy, description, description_cy, hides in REASONS:
        RejectionReason.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "label_cy": label_cy,
                "description": description,
                "description_cy": description_cy,
                "hides_text": hides,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("consultations", "0002_no_markup")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
