"""Flask commands. They call services; they hold no domain logic of their own."""

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext


@click.command("seed-reference")
@with_appcontext
def seed_reference_command():
    """Load the regions and their yearly hour rules (idempotent; run on every installation)."""
    from seeding.demo import seed_reference

    regions = seed_reference()
    click.echo(f"参考数据已就绪：地区 {len(regions)} 个，学时规则见 data/hour-rules.csv")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Load the demo regions, bases, admins, courses and a year of history (idempotent). Refused in
    production: what the demo says of the real institutions it names is made up."""
    import os
    import time

    from seeding.demo import DEMO_PASSWORD, seed_demo

    if os.environ.get("JIDI_ENV") == "production":
        raise click.ClickException("生产环境不能载入演示数据：演示数据中真实机构的课程、学员和评估结论都是虚构的")
    began = time.perf_counter()
    counts = seed_demo()
    click.echo("演示数据已就绪：" + "，".join(f"{k} {v}" for k, v in counts.items())
               + f"（用时 {time.perf_counter() - began:.1f} 秒）")
    click.echo(f"演示账号密码：{DEMO_PASSWORD}（见 README）")
    click.echo("以 DEMO_MODE=1 启动（make run 已设置），每个页面顶部标明这是演示数据")


@click.command("reindex-search")
@with_appcontext
def reindex_search_command():
    """Cut every course's text for the search index again (once, after an upgrade that changes the cut)."""
    from services.courses import reindex_search

    click.echo(f"搜索索引已更新：{reindex_search()} 门课程")


@click.command("normalise-identifiers")
@with_appcontext
@click.option("--apply", is_flag=True, help="写入更改（不加此项只列出将要更改的内容）")
def normalise_identifiers_command(apply):
    """Re-spell e-mails, phones and ID numbers stored before they had one spelling (once, after upgrading;
    see docs/DEPLOY.md). A dry run unless --apply; collisions are reported, never merged."""
    import time

    from services.respell import normalise_identifiers

    began = time.perf_counter()
    report = normalise_identifiers(apply=apply)
    for change in report.changed:
        click.echo(f"用户 #{change.user_id}\t{change.field}\t{change.old_masked} → {change.new_masked}")
    for name, masked, user_ids in report.collisions:
        click.echo(f"冲突：{name} {masked} 将由多个账号共用（" + "、".join(f"#{i}" for i in user_ids) +
                   "），均未更改，请人工核对")
    for user_id, name, masked in report.invalid:
        click.echo(f"无效：用户 #{user_id} 的 {name} {masked} 统一写法后仍不是有效号码，未更改")
    verb = "已更改" if report.applied else "将更改（试运行，未写入；加 --apply 写入）"
    click.echo(f"{verb} {len(report.changed)} 项，冲突 {len(report.collisions)} 处，无效 {len(report.invalid)} 项；"
               f"解密身份证号 {report.id_numbers_read} 个，用时 {time.perf_counter() - began:.1f} 秒")


@click.command("create-platform-admin")
@with_appcontext
@click.argument("email")
@click.argument("name")
def create_platform_admin_command(email, name):
    """Make a platform administrator (keeps the holiday calendar). The password is read from
    JIDI_PLATFORM_ADMIN_PASSWORD, else prompted twice; never an argument, which the process list shows."""
    import os

    from services.errors import DomainError
    from services.platform_admins import create_platform_admin

    password = os.environ.get("JIDI_PLATFORM_ADMIN_PASSWORD") or click.prompt(
        "密码", hide_input=True, confirmation_prompt="再次输入密码")
    try:
        user = create_platform_admin(email, name, password)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"已创建平台管理员 {user.email}（{user.name}）")


@click.command("evaluate")
@with_appcontext
@click.option("--year", type=int, required=True, help="评估年度")
@click.option("--region", "region_code", default=None, help="地区代码，如 510100；不填则评估全部基地")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None, help="写出 XLSX 文件")
def evaluate_command(year, region_code, out):
    """Run the annual evaluation (the same computation as the regulator's page) and print it."""
    import sqlalchemy as sa

    from extensions import db
    from models import Region
    from services import evaluation, exports

    region = None
    if region_code:
        region = db.session.execute(sa.select(Region).where(Region.code == region_code)).scalar_one_or_none()
        if region is None:
            raise click.BadParameter(f"没有代码为 {region_code} 的地区", param_hint="--region")
    # What the regulator's page would store: a city's evaluation leaves its province-level bases out.
    results = evaluation.decided_results(year, region.id if region else None)
    click.echo(f"{year} 年度评估（{region.full_name if region else '全部地区'}）：{len(results)} 个基地")
    click.echo("基地\t培训人数\t项目\t得分\t建议结论")
    for r in results:
        click.echo(f"{r.base.name}\t{r.trainees}\t{r.projects}\t{r.score}\t{r.proposed.label}")
    if region is not None and region.parent_id is not None:
        click.echo("市级评估只含市级基地；省级基地（含乡村振兴基地）由省级人社部门评估")
    if out:
        title = f"{year}年度继续教育基地评估结果（{region.full_name if region else '全部地区'}，试算）"
        with open(out, "wb") as handle:
            handle.write(exports.evaluation_rows_xlsx(title, results))
        click.echo(f"已写出 {out}")


@click.command("grant-app-role")
@with_appcontext
@click.argument("role")
def grant_app_role_command(role):
    """PostgreSQL: let ROLE, the role the web application connects as, read and write rows but not alter
    tables or the audit log (run as the owner after every migration; see docs/DEPLOY.md)."""
    from services.errors import DomainError
    from services.infra.db_roles import grant_app_role

    try:
        statements = grant_app_role(role)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    for statement in statements:
        click.echo(statement)
    click.echo(f"已授权应用角色 {role}")


@click.command("bench-data")
@with_appcontext
@click.option("--tier", type=click.Choice(["1x", "10x", "test"]), default="1x", help="1x 一个城市，10x 一个省")
@click.option("--seed", type=int, default=20261122, help="随机种子（同一种子生成同样的数据）")
def bench_data_command(tier, seed):
    """Generate deterministic benchmark data with bulk inserts (regions and rules are loaded first)."""
    import time

    from seeding import benchdata
    from seeding.demo import seed_reference
    from services.errors import DomainError

    began = time.perf_counter()
    seed_reference()
    try:
        written = benchdata.generate(tier, seed)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"已生成 {tier} 规模的基准数据（{time.perf_counter() - began:.1f} 秒）：" +
               "，".join(f"{k} {v}" for k, v in written.items() if k != "boundary_bases"))


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path):
    """Copy the live SQLite database to PATH with the backup API (consistent while the app writes)."""
    from extensions import db
    from services.errors import DomainError
    from services.infra import backup

    source = backup.sqlite_path(str(db.engine.url))
    if source is None:
        raise click.ClickException(backup.POSTGRES_HELP)
    try:
        report = backup.backup_sqlite(source, path)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"已备份到 {report.path}：{len(report.tables)} 张表，{report.rows} 行，完整性检查 ok")


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="确认用备份覆盖当前数据库（请先停止应用服务器）")
def restore_command(path, yes):
    """Replace the SQLite database by the backup at PATH (checked first; the old one is kept beside it)."""
    from extensions import db
    from services.errors import DomainError
    from services.infra import backup

    target = backup.sqlite_path(str(db.engine.url))
    if target is None:
        raise click.ClickException(backup.POSTGRES_HELP)
    if not yes:
        raise click.ClickException(
            f"恢复会用 {path} 覆盖 {target} 的全部数据。请先停止应用服务器，再加 --yes 重新运行。")
    db.engine.dispose()  # this process's pooled connections must not outlive the old database
    try:
        report = backup.restore_sqlite(path, target)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"已从 {path} 恢复：{len(report.tables)} 张表，{report.rows} 行，完整性检查 ok")
    if report.safety_copy:
        click.echo(f"恢复前的数据库保存在 {report.safety_copy}")


@click.group("jobs", help="后台任务队列")
def jobs_group():
    pass


@jobs_group.command("run-queued", help="在本进程中运行队列里的全部任务（包括待重试的），然后退出")
@with_appcontext
def run_queued_command():
    """Drain the queue in-process, without a consumer: what ``make run`` does not need (it starts one), but a
    one-off script, a cron line or an operator checking a stuck queue may."""
    from services.infra.queue import huey, run_queued

    pending = huey.pending_count()
    ran = run_queued()
    click.echo(f"排队任务 {pending} 个，本次运行 {ran} 个（含到期的重试）")

@jobs_group.command("remind-deadline")
@with_appcontext
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="按哪一天提醒（如 2026-12-01）；不填为今天")
@click.option("--enqueue", is_flag=True, help="交给任务队列执行（不加此项在本进程内执行）")
def remind_deadline_command(day, enqueue):
    """年度学时截止提醒：12月提醒学时不足的专业技术人员（每人每阶段一次）"""
    from services import jobs
    from services.infra import clock

    on = day.date() if day else clock.today()
    if enqueue:
        jobs.remind_deadline_for(on.isoformat())
        click.echo(f"已加入任务队列：{on.isoformat()} 的截止提醒")
        return
    made = jobs.remind_deadline_on(on)
    click.echo(f"{on.isoformat()}：发出 {made} 条截止提醒")


COMMANDS = (seed_reference_command, seed_demo_command, reindex_search_command, normalise_identifiers_command,
            create_platform_admin_command, evaluate_command, grant_app_role_command, bench_data_command,
            backup_command, restore_command, jobs_group)


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
