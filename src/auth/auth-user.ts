export type Role = 'participant' | 'staff' | 'admin';

export interface AuthUser {
  sub: string;
  roles: Role[];
}

export function isStaff(user: AuthUser): boolean {
  return user.roles.includes('staff') || user.roles.includes('admin');
}
