from django.contrib import admin
from django.urls import path
from blog import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("posts/", views.post_list),
    path("api/", views.api),
]
