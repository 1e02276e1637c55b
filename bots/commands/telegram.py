"""`coach telegram`: run the Telegram bot (long polling, or a webhook with a secret token)."""

from __future__ import annotations

from typing import Annotated

import typer

from agent.errors import ConfigError
from bots.app import app, console, load_settings, user_errors


@app.command()
@user_errors
def telegram(
    webhook: Annotated[str | None, typer.Option(help="Public HTTPS URL for webhook mode (default: polling).")] = None,
    listen: Annotated[str, typer.Option(help="Address the webhook server binds.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the webhook server binds.")] = 8443,
    base_url: Annotated[str | None, typer.Option(help="A self-hosted Bot API server URL.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use the offline interviewer and grader.")] = False,
    rate_limit: Annotated[bool, typer.Option(help="Pace outgoing messages to Telegram's limits (off only for a "
                                                  "load test against a local Bot API).")] = True,
) -> None:
    """Run the coach as a Telegram bot (needs TELEGRAM_BOT_TOKEN)."""
    import asyncio
    import logging

    settings = load_settings()
    if not settings.telegram_bot_token:
        raise ConfigError("set TELEGRAM_BOT_TOKEN (from @BotFather) to run the bot")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it would log URLs, and URLs hold the token
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # two lines per answer (its reminder job)
    try:
        asyncio.run(_serve(settings, webhook, listen, port, base_url or settings.telegram_base_url, offline,
                           rate_limit))
    except Exception as err:
        if type(err).__name__ == "InvalidToken":  # telegram.error.InvalidToken; the SDK is imported by the bot only
            raise ConfigError("Telegram rejected TELEGRAM_BOT_TOKEN: copy the token from @BotFather "
                              "(/mybots, API Token) and set it again") from None
        raise


async def _serve(settings, webhook, listen, port, base_url, offline, rate_limit=True) -> None:
    import asyncio
    import secrets
    import signal
    import socket

    from agent.service import SessionService
    from bots.speech import Transcriber
    from bots.startup import loaded
    from bots.telegram.bot import build_application, register_commands
    from bots.telegram.inbox import Intake, cancel, poll, serve_webhook

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SessionService.open(settings, offline=True if offline else None) as coach:
        application = build_application(coach, settings.telegram_bot_token.get_secret_value(), base_url=base_url,
                                        merge_window=settings.telegram_merge_seconds,
                                        transcriber=Transcriber.from_settings(settings), rate_limit=rate_limit)
        async with application:
            await register_commands(application)
            await application.start()
            loaded()  # start-up is over (bots/startup.py)
            # Polling: one process per bot token (Telegram allows one getUpdates consumer). Webhook:
            # any number of workers share the database; each is named by host and port, so a
            # restarted worker takes back the chats it was draining when it died.
            worker = f"{socket.gethostname()}:{port}" if webhook else "polling"
            intake = Intake(application, coach.inbox, worker)
            await intake.recover()
            tasks = [asyncio.create_task(intake.sweep_forever())]
            server = None
            if webhook:
                secret = (settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret
                          else secrets.token_urlsafe(32))
                server = await serve_webhook(intake, secret, listen, port, public_url=webhook)
                console.print(f"webhook listening on {listen}:{port}/telegram for {webhook}")
            else:
                tasks.append(asyncio.create_task(poll(application, intake)))
                console.print("polling Telegram for updates; Ctrl-C stops")
            await stop.wait()
            if server is not None:
                server.stop()
            for task in tasks:
                await cancel(task)
            intake.close()  # answers still inside their merge window stay stored: the next start merges them
            await intake.idle()  # let handlers under way finish; what is left stays in the inbox
            await application.stop()
