"""Flask commands. They call services; they hold no domain logic of their own."""

import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.command("seed-reference")
    def seed_reference_command():
        """Load the regions and their yearly hour rules (idempotent; run on every installation)."""
        from services.demo import seed_reference

        regions = seed_reference()
        click.echo(f"参考数据已就绪：地区 {len(regions)} 个，学时规则见 data/hour-rules.csv")

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Load the demo regions, bases, admins and courses (idempotent)."""
        from services.demo import DEMO_PASSWORD, seed_demo

        counts = seed_demo()
        click.echo("演示数据已就绪：" + "，".join(f"{k} {v}" for k, v in counts.items()))
        click.echo(f"演示账号密码：{DEMO_PASSWORD}（见 README）")
