<%inherit file="base.mako"/>
<%def name="title()">${heading}</%def>
<%def name="row(name, n)"><li>${name}: ${n * 2}</li></%def>
<ul>
% for name, n in rows:
${row(name, n)}
% endfor
</ul>
