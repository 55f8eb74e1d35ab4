"""pyserial: URL handlers chosen by scheme (loop://, socket://), port enumeration."""
import socket
import threading
import serial
import serial.tools.list_ports


def echo_server(sock):
    c, _ = sock.accept()
    c.sendall(b"srv:" + c.recv(100))
    c.close()


def main():
    s = serial.serial_for_url("loop://", baudrate=115200, timeout=1)
    s.write(b"hello serial\n")
    print("loop:", s.readline(), type(s).__module__)
    s.close()
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    threading.Thread(target=echo_server, args=(ls,), daemon=True).start()
    s = serial.serial_for_url(f"socket://127.0.0.1:{ls.getsockname()[1]}", timeout=2)
    s.write(b"ping")
    print("socket:", s.read(8), type(s).__module__)
    s.close()
    print("ports:", isinstance(serial.tools.list_ports.comports(), list))
    print("version:", serial.VERSION.split(".")[0])


main()
