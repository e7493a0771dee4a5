# The browser test of this folder reuses the browser fixtures (Chromium, page with problem collection).
