import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0003_attachment_private_storage'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='last_change',
            field=models.BigIntegerField(default=0),
        ),
        migrations.CreateModel(
            name='MessageChange',
            fields=[
                ('message', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='chat.message')),
                ('change', models.BigIntegerField()),
                ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chat.conversation')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('conversation', 'change'), name='chat_message_change_unique')],
            },
        ),
    ]
