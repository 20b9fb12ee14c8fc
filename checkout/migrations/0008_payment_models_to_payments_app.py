"""PaymentMethod, Payment and StripeEvent moved to the payments app.

Only Django's picture of the models changes: their tables keep their names
(``checkout_payment`` …, set as ``db_table`` in payments/models.py) and every row
stays. payments/migrations/0001_initial.py takes them over.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('checkout', '0007_payment_method_entered_at_checkout'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='payment',
                    name='account',
                ),
                migrations.RemoveField(
                    model_name='payment',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='payment',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='payment',
                    name='payment_method',
                ),
                migrations.RemoveField(
                    model_name='paymentmethod',
                    name='account',
                ),
                migrations.DeleteModel(
                    name='StripeEvent',
                ),
                migrations.DeleteModel(
                    name='Payment',
                ),
                migrations.DeleteModel(
                    name='PaymentMethod',
                ),
            ],
            database_operations=[],
        ),
    ]
