"""The site's areas, one blueprint each."""
