"""lxml: parse XML with namespaces, XPath, XSLT, schema validation, HTML parsing, objectify."""
from lxml import etree, html, objectify

XML = b"""<catalog xmlns="urn:books"><book id="1" year="1815"><title>Emma</title><price>9.5</price></book>
<book id="2" year="1871"><title>Middlemarch</title><price>12</price></book></catalog>"""
root = etree.fromstring(XML)
ns = {"b": "urn:books"}
print(root.xpath("//b:book[@year > 1850]/b:title/text()", namespaces=ns))
print(root.xpath("sum(//b:price)", namespaces=ns))
xslt = etree.XSLT(etree.fromstring(b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:b="urn:books">
<xsl:output method="text"/><xsl:template match="/"><xsl:for-each select="//b:book"><xsl:value-of select="b:title"/>;</xsl:for-each></xsl:template></xsl:stylesheet>"""))
print(str(xslt(etree.ElementTree(root))))
schema = etree.XMLSchema(etree.fromstring(b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
<xs:element name="n" type="xs:integer"/></xs:schema>"""))
print(schema.validate(etree.fromstring(b"<n>3</n>")), schema.validate(etree.fromstring(b"<n>x</n>")))
doc = html.fromstring("<div><p class='a'>one<p class='a'>two<a href='/x'>link</a></div>")
print([p.text_content() for p in doc.xpath("//p[@class='a']")])
print(list(doc.iterlinks())[0][2])
obj = objectify.fromstring(b"<r><n>3</n><f>1.5</f></r>")
print(obj.n + 1, obj.f * 2)
print(etree.tostring(etree.fromstring(b"<a><b/></a>"), pretty_print=True).decode().strip())
