"""The HubSpot portal: its store, its drawing, its day of change and the emulator that serves it."""
