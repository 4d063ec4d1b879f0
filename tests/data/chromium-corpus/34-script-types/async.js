var b = 1;
