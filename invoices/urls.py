from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    path("invoices/", views.invoice_list, name="list"),
    path("invoices/<slug:number>.pdf", views.invoice_pdf_download, name="pdf"),
    path("invoices/<slug:number>.xml", views.invoice_xml_download, name="xml"),
]
