"""argparse help that shows each option's default, where there is one worth showing."""

import argparse


class ShowDefaults(argparse.HelpFormatter):
    """Append "(default: X)" to an option's help unless it has no default or already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        default = action.default
        # Flags (False), unset options (None) and empty values have no default a reader could use.
        if "default" in help_text or default in (None, False, "", argparse.SUPPRESS) or default == {}:
            return help_text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return help_text
        return f"{help_text} (default: %(default)s)"
