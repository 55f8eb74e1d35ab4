"""plotly: express figure from a DataFrame, templates, to_json and standalone HTML with the bundled plotly.js."""
import hashlib
import json
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio


def main():
    df = pd.DataFrame({"x": [1, 2, 3, 4], "y": [10, 11, 12, 13], "kind": ["a", "b", "a", "b"]})
    fig = px.scatter(df, x="x", y="y", color="kind", template="plotly_dark", title="probe")
    fig.add_trace(go.Bar(x=[1, 2], y=[3, 4], name="bars"))
    d = json.loads(fig.to_json())
    print("traces:", [t["type"] for t in d["data"]])
    print("template bg:", d["layout"]["template"]["layout"]["paper_bgcolor"])
    print("templates:", sorted(pio.templates)[:5])
    html = fig.to_html(include_plotlyjs=True, full_html=True, div_id="fixed")
    print("html has plotly.js:", len(html) > 1_000_000)
    from plotly.offline import get_plotlyjs
    print("plotly.js sha:", hashlib.sha256(get_plotlyjs().encode()).hexdigest()[:12])
    print("colors:", px.colors.qualitative.Plotly[:3])
    fig2 = go.Figure(go.Choropleth(locations=["FRA", "DEU"], z=[1, 2]))
    print("validators ok:", fig2.data[0].type)


main()
