// Marks the document once the script ran, so a browser test can see it.
document.documentElement.dataset.scriptRan = "yes";
