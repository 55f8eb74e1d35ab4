<html><title>${self.title()}</title>
<body>
${self.body()}
</body></html>
<%def name="title()">untitled</%def>
