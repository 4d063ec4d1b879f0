// The demo page's script: a third file, fetched and run by the browser.
document.documentElement.dataset.scriptRan = "yes";
