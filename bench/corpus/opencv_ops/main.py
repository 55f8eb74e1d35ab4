"""OpenCV image processing: draw, blur, edges, contours, encode/decode PNG, ORB features, cv2 submodules."""
import cv2
import numpy as np


def main():
    img = np.zeros((200, 300, 3), np.uint8)
    cv2.rectangle(img, (20, 20), (120, 120), (255, 255, 255), -1)
    cv2.circle(img, (200, 100), 50, (0, 128, 255), -1)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    edges = cv2.Canny(blur, 50, 150)
    print("edges:", int(edges.sum() // 255))
    cnts, _ = cv2.findContours((gray > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    print("contours:", sorted(int(cv2.contourArea(c)) for c in cnts))
    ok, buf = cv2.imencode(".png", img)
    back = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    print("png roundtrip:", ok, bool((back == img).all()))
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print("jpg ok:", ok)
    orb = cv2.ORB_create(nfeatures=50)
    kps = orb.detect(gray, None)
    print("orb keypoints > 0:", len(kps) > 0)
    print("data dir exists:", __import__("os").path.isdir(cv2.data.haarcascades) if hasattr(cv2.data, "haarcascades") else "n/a")
    print("utils:", hasattr(cv2, "utils"), "dnn:", hasattr(cv2.dnn, "readNet"))
    print("version major:", cv2.__version__.split(".")[0])


main()
