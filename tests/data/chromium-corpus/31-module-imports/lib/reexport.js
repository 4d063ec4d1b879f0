export const again = 2;
