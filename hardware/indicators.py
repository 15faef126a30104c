"""LEDs and buzzer: the feedback a person at the kiosk gets without looking at the screen.

gpiozero ``LED``/``Buzzer`` with an injectable ``pin_factory``. All patterns use gpiozero's
background ``blink`` so a call never blocks the caller (often a hardware callback thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gpiozero loads when indicators are built (issue 15)
    from gpiozero.pins import Factory


class NullIndicators:
    """No LEDs or buzzer fitted."""

    def ok(self) -> None:
        """Nothing to show."""

    def error(self) -> None:
        """Nothing to show."""

    def alarm(self, on: bool) -> None:
        """Nothing to sound."""

    def close(self) -> None:
        """Nothing to release."""


class GpioIndicators:
    """Green LED = accepted, red LED = refused / fault, buzzer for beeps and the alarm."""

    def __init__(
        self,
        green_pin: int | str | None = None,
        red_pin: int | str | None = None,
        buzzer_pin: int | str | None = None,
        *,
        buzzer_active_high: bool = True,
        beep_s: float = 0.08,
        pin_factory: Factory | None = None,
    ) -> None:
        from gpiozero import LED, Buzzer

        self.beep_s = beep_s
        self.green = LED(green_pin, pin_factory=pin_factory) if green_pin is not None else None
        self.red = LED(red_pin, pin_factory=pin_factory) if red_pin is not None else None
        self.buzzer = (
            Buzzer(buzzer_pin, active_high=buzzer_active_high, pin_factory=pin_factory)
            if buzzer_pin is not None
            else None
        )
        self.alarming = False

    def ok(self) -> None:
        """One short beep and a green flash."""
        if self.alarming:
            return
        if self.green is not None:
            self.green.blink(on_time=0.5, off_time=0, n=1)
        if self.buzzer is not None:
            self.buzzer.blink(on_time=self.beep_s, off_time=0, n=1)

    def error(self) -> None:
        """Three short beeps and a red flash."""
        if self.alarming:
            return
        if self.red is not None:
            self.red.blink(on_time=0.8, off_time=0, n=1)
        if self.buzzer is not None:
            self.buzzer.blink(on_time=self.beep_s, off_time=self.beep_s, n=3)

    def alarm(self, on: bool) -> None:
        """Continuous red flashing and beeping until turned off."""
        self.alarming = on
        if on:
            if self.red is not None:
                self.red.blink(on_time=0.25, off_time=0.25)
            if self.buzzer is not None:
                self.buzzer.blink(on_time=0.25, off_time=0.25)
        else:
            for dev in (self.red, self.buzzer):
                if dev is not None:
                    dev.off()

    def close(self) -> None:
        for dev in (self.green, self.red, self.buzzer):
            if dev is not None:
                dev.close()
