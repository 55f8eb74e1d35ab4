"""A textual app run headless with run_test: press a button, read a label, take a screenshot."""
import asyncio

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Footer, Header, Input, Label


class Counter(App):
    CSS = "Label { padding: 1; } #count { color: green; }"
    BINDINGS = [("r", "reset", "Reset")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Label("0", id="count")
            yield Input(placeholder="name", id="name")
            yield Button("Add", id="add")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        label = self.query_one("#count", Label)
        label.update(str(int(str(label.content)) + 1))

    def action_reset(self) -> None:
        self.query_one("#count", Label).update("0")


async def main():
    app = Counter()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.click("#add")
        await pilot.pause()
        for _ in range(2):
            app.query_one("#add", Button).press()
            await pilot.pause()
        print("after clicks:", app.query_one("#count", Label).content)
        await pilot.click("#name")
        await pilot.press("a", "d", "a")
        print("input:", app.query_one("#name", Input).value)
        app.set_focus(None)
        await pilot.press("r")
        await pilot.pause()
        print("after reset:", app.query_one("#count", Label).content)
        svg = app.export_screenshot()
        print("screenshot svg:", svg.startswith("<svg"), "Add" in svg)


asyncio.run(main())
