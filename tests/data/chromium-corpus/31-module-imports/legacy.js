var legacy = 1;
