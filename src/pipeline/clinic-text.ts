export type ClinicDetails = { name: string; phone: string; emergencyPhone: string };

/** Fills the {{CLINIC_…}} placeholders the clinic's documents use, at answer time, from the config. */
export function fillClinicPlaceholders(text: string, clinic: ClinicDetails): string {
  return text
    .replaceAll('{{CLINIC_NAME}}', clinic.name)
    .replaceAll('{{CLINIC_PHONE}}', clinic.phone)
    .replaceAll('{{CLINIC_EMERGENCY_PHONE}}', clinic.emergencyPhone);
}
