# Written as 0006 is (its AddColumnDropsInPlace: added only where missing, dropped in place).
"""AudioFile.thumb_type: the type of the document's thumbnail (the track's cover) upload.getFile
fetches, as the message listed it; None where it has none (or it was stored before covers were)."""

import importlib

from tortoise import fields, migrations

_topic = importlib.import_module("tad_tui.store.migrations.0006_topic")


class Migration(migrations.Migration):
    dependencies = [("models", "0007_missing")]

    initial = False

    operations = [
        _topic.AddColumnDropsInPlace(
            model_name="AudioFile",
            name="thumb_type",
            field=fields.CharField(null=True, max_length=8),
        ),
    ]
