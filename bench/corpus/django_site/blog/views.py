from django.http import JsonResponse
from django.shortcuts import render
from .models import Post


def post_list(request):
    return render(request, "blog/post_list.html", {"posts": Post.objects.order_by("id")})


def api(request):
    return JsonResponse({"titles": list(Post.objects.order_by("id").values_list("title", flat=True))})
