"""psutil, dnspython (parse a zone text; rdata types loaded by computed module names), zeroconf
(ServiceInfo only) and netaddr (IEEE OUI database files)."""
import psutil
import dns.zone, dns.rdatatype, dns.message, dns.name
import zeroconf
import netaddr

p = psutil.Process()
print(p.pid > 0, psutil.cpu_count() >= 1, psutil.virtual_memory().total > 0, p.name() != "")
ZONE = """$ORIGIN example.com.
$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 900 1209600 86400
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN CNAME ns1
@ IN MX 10 mail
mail IN AAAA 2001:db8::1
@ IN TXT "v=spf1 -all"
_sip._tcp IN SRV 0 5 5060 sip
@ IN CAA 0 issue "letsencrypt.org"
"""
z = dns.zone.from_text(ZONE, relativize=False)
for name, node in sorted(z.nodes.items()):
    for rds in node.rdatasets:
        print(name.to_text(), dns.rdatatype.to_text(rds.rdtype), sorted(r.to_text() for r in rds))
m = dns.message.make_query("www.example.com", "A"); print(len(m.to_wire()))
info = zeroconf.ServiceInfo("_http._tcp.local.", "web._http._tcp.local.", addresses=[bytes([192, 168, 1, 5])],
                            port=8080, properties={"path": "/"}, server="host.local.")
print(info.port, info.parsed_addresses(), info.properties)
mac = netaddr.EUI("00-1B-63-84-45-E6")
print(mac.oui.registration().org, mac.format(netaddr.mac_unix_expanded))
print(list(netaddr.IPNetwork("10.0.0.0/30")), netaddr.IPAddress("192.168.1.1").is_private() if hasattr(netaddr.IPAddress("1.1.1.1"), "is_private") else "")
print(netaddr.cidr_merge(["10.0.0.0/25", "10.0.0.128/25"]))
